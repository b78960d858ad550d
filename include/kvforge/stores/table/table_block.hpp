#pragma once
/// \file table_block.hpp
/// A block of a sorted table: entries in key order, each key stored as the bytes it shares
/// with the key before it and the bytes that follow, so that keys with long common
/// prefixes (paths, timestamps) take little room before any compression.
///
/// A block's bytes are its entries, then the restart array and its length:
///
///     entry     varint shared key bytes, varint unshared key bytes, type u8,
///               varint value size, [deadline i64 little-endian], [tag u8],
///               the key's unshared bytes, the value
///     restarts  u32 little-endian each: the offset of an entry that shares nothing
///     count     u32 little-endian: how many restarts
///
/// The type byte is a log record's (record_format.hpp): the kind, 1 put or 2 erase, and for
/// a put the flag bits that say a deadline or a tag follows. Every restart_interval-th entry
/// is a restart, so a lookup bisects the restarts and decodes at most that many entries.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../detail/byte_order.hpp"
#include "../log/record_format.hpp"

namespace kvforge::detail {

/// One entry of a table: a put, with what a log record carries beside its value, or an erase.
struct table_entry {
    std::string_view key;
    record_type kind = record_type::put;
    record_meta meta;
    std::string_view value;  ///< empty for an erase
};

/// Entries between two restarts of a block.
inline constexpr unsigned block_restart_interval = 16;

/// Builds one block from entries given in increasing key order.
class block_builder {
public:
    /// Adds an entry whose key is greater than every key added since the last reset().
    void add(const table_entry& entry) {
        std::size_t shared = 0;
        if (entries_since_restart_ == block_restart_interval || restarts_.empty()) {
            restarts_.push_back(static_cast<std::uint32_t>(bytes_.size()));
            entries_since_restart_ = 0;
        } else {
            const std::size_t limit = std::min(last_key_.size(), entry.key.size());
            while (shared < limit && last_key_[shared] == entry.key[shared]) ++shared;
        }
        const unsigned char flags = entry.kind == record_type::put ? entry.meta.flags : 0;
        char header[4 * max_varint_size + 9];
        char* p = put_varint(header, shared);
        p = put_varint(p, entry.key.size() - shared);
        *p++ = static_cast<char>(static_cast<unsigned char>(entry.kind) | flags);
        p = put_varint(p, entry.value.size());
        if ((flags & record_flag::deadline) != 0) {
            file_header::put_le64(p, static_cast<std::uint64_t>(entry.meta.deadline));
            p += 8;
        }
        if ((flags & record_flag::tag) != 0) *p++ = static_cast<char>(entry.meta.tag);
        bytes_.append(header, static_cast<std::size_t>(p - header));
        bytes_.append(entry.key.substr(shared)).append(entry.value);
        last_key_.assign(entry.key);
        ++entries_since_restart_;
    }

    [[nodiscard]] bool empty() const noexcept { return restarts_.empty(); }
    /// The size finish() would give now.
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size() + 4 * restarts_.size() + 4; }
    [[nodiscard]] std::string_view last_key() const noexcept { return last_key_; }

    /// Ends the block: its bytes, valid until the next add() or reset().
    [[nodiscard]] std::string_view finish() {
        for (const std::uint32_t restart : restarts_) append_le32(restart);
        append_le32(static_cast<std::uint32_t>(restarts_.size()));
        return bytes_;
    }

    void reset() noexcept {
        bytes_.clear();
        restarts_.clear();
        last_key_.clear();
        entries_since_restart_ = 0;
    }

private:
    void append_le32(std::uint32_t v) {
        char le[4];
        file_header::put_le32(le, v);
        bytes_.append(le, 4);
    }

    std::string bytes_;
    std::vector<std::uint32_t> restarts_;
    std::string last_key_;
    unsigned entries_since_restart_ = 0;
};

/// Walks the entries of one block, whose bytes passed their checksum, in both directions.
/// Bytes that do not decode (a block from a bug, or damage that kept its checksum) make the
/// cursor invalid and damaged(), never an entry read past the block.
class block_cursor {
public:
    /// Takes a block's bytes, which must outlive the cursor's use; false when its restart
    /// array does not fit it.
    [[nodiscard]] bool parse(std::string_view block) noexcept {
        block_ = block;
        current_ = next_ = end_ = 0;
        damaged_ = false;
        if (block.size() < 4) return false;
        restarts_ = file_header::get_le32(block.data() + block.size() - 4);
        // A block without entries is only the count: an empty table's index.
        if (restarts_ == 0) return block.size() == 4;
        if (restarts_ > (block.size() - 4) / 4) return false;
        end_ = block.size() - 4 - 4 * std::size_t{restarts_};
        current_ = next_ = end_;
        for (std::uint32_t i = 0; i < restarts_; ++i) {
            if (restart(i) >= end_) return false;
        }
        return true;
    }

    /// Whether the cursor is at an entry.
    [[nodiscard]] bool valid() const noexcept { return current_ < end_ && !damaged_; }
    /// Whether an entry failed to decode.
    [[nodiscard]] bool damaged() const noexcept { return damaged_; }
    /// The entry the cursor is at; its key and value stay valid until the cursor moves.
    [[nodiscard]] const table_entry& entry() const noexcept { return entry_; }

    bool seek_first() {
        if (restarts_ == 0) return false;
        seek_restart(0);
        return decode_next();
    }

    bool seek_last() {
        if (restarts_ == 0) return false;
        seek_restart(restarts_ - 1);
        while (decode_next() && next_ < end_) {
        }
        return valid();
    }

    /// Moves to the first entry whose key is not less than key.
    bool seek(std::string_view key) {
        if (restarts_ == 0) return false;
        std::uint32_t low = 0;
        std::uint32_t high = restarts_ - 1;
        while (low < high) {
            const std::uint32_t middle = low + (high - low + 1) / 2;
            seek_restart(middle);
            if (!decode_next()) return false;
            if (entry_.key < key) {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        seek_restart(low);
        while (decode_next()) {
            if (entry_.key >= key) return true;
        }
        return false;
    }

    bool next() { return decode_next(); }

    /// Moves to the entry before this one: back to the restart before it, then forward.
    bool prev() {
        const std::size_t target = current_;
        std::uint32_t r = restarts_;
        while (r > 0 && restart(r - 1) >= target) --r;
        if (r == 0) {
            current_ = next_ = end_;
            return false;
        }
        seek_restart(r - 1);
        while (decode_next()) {
            if (next_ == target) return true;
        }
        return false;
    }

private:
    [[nodiscard]] std::size_t restart(std::uint32_t i) const noexcept {
        return file_header::get_le32(block_.data() + end_ + 4 * std::size_t{i});
    }

    /// Puts the cursor before restart i, which shares nothing with the key before it.
    void seek_restart(std::uint32_t i) noexcept {
        key_.clear();
        next_ = restart(i);
    }

    /// Decodes the entry at next_ into entry_; false at the end, or when it is damaged.
    bool decode_next() {
        current_ = next_;
        if (current_ >= end_) return false;
        const char* const end = block_.data() + end_;
        const char* p = block_.data() + current_;
        std::uint64_t shared = 0;
        std::uint64_t unshared = 0;
        std::uint64_t value_size = 0;
        if ((p = get_varint(p, end, shared)) == nullptr || (p = get_varint(p, end, unshared)) == nullptr ||
            p == end) {
            return fail();
        }
        const auto type = static_cast<unsigned char>(*p++);
        const auto kind = static_cast<record_type>(type & 0x07);
        const auto flags = static_cast<unsigned char>(type & ~0x07);
        if ((kind != record_type::put && kind != record_type::erase) || (flags & ~record_flag::known) != 0 ||
            (kind == record_type::erase && flags != 0)) {
            return fail();
        }
        if ((p = get_varint(p, end, value_size)) == nullptr) return fail();
        const std::size_t fields = flag_fields_size(flags);
        if (shared > key_.size() || static_cast<std::size_t>(end - p) < fields ||
            unshared > static_cast<std::size_t>(end - p) - fields ||
            value_size > static_cast<std::size_t>(end - p) - fields - unshared ||
            (kind == record_type::erase && value_size != 0)) {
            return fail();
        }
        entry_.kind = kind;
        entry_.meta = {};
        entry_.meta.flags = flags;
        if ((flags & record_flag::deadline) != 0) {
            entry_.meta.deadline = static_cast<std::int64_t>(file_header::get_le64(p));
            p += 8;
        }
        if ((flags & record_flag::tag) != 0) entry_.meta.tag = static_cast<unsigned char>(*p++);
        key_.resize(shared);
        key_.append(p, unshared);
        p += unshared;
        entry_.key = key_;
        entry_.value = std::string_view(p, value_size);
        next_ = static_cast<std::size_t>(p + value_size - block_.data());
        return true;
    }

    bool fail() noexcept {
        damaged_ = true;
        return false;
    }

    std::string_view block_;
    std::uint32_t restarts_ = 0;
    std::size_t end_ = 0;      ///< where the entries end and the restart array begins
    std::size_t current_ = 0;  ///< the offset of entry_
    std::size_t next_ = 0;     ///< the offset of the entry after it
    bool damaged_ = false;
    std::string key_;
    table_entry entry_;
};

}  // namespace kvforge::detail
