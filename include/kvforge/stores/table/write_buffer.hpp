#pragma once
/// \file write_buffer.hpp
/// The entries written since a store's tables were last flushed, in key order and with
/// their values: for each key, its newest put (value, deadline, tag) or erase. A read
/// looks here before the tables; a flush writes the whole buffer into a level 0 table in
/// one pass, since it is already in order. It lives beside the log that makes it durable,
/// which recovery replays into a new buffer, so its memory (memory_usage, about the log's
/// bytes since the flush) is bounded by the size at which the store flushes it.
///
/// The buffer is a B+tree (btree.hpp) from each key to a payload: the entry's type byte
/// (a log record's: kind and flags), its deadline and tag when the flags say so, then its
/// value.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "../../detail/btree.hpp"
#include "../log/record_format.hpp"
#include "merging_cursor.hpp"
#include "table_block.hpp"

namespace kvforge::detail {

class write_buffer {
public:
    /// Makes entry its key's newest, replacing the one before, in one descent of the tree.
    /// hidden is the key and value of the version in the tables an erase hides (0: none).
    /// Throws std::bad_alloc, leaving the buffer as it was.
    void add(const table_entry& entry, std::uint64_t hidden = 0) {
        payload_.clear();
        const unsigned char flags = entry.kind == record_type::put ? entry.meta.flags : 0;
        payload_.push_back(static_cast<char>(static_cast<unsigned char>(entry.kind) | flags));
        if ((flags & record_flag::deadline) != 0) {
            char deadline[8];
            file_header::put_le64(deadline, static_cast<std::uint64_t>(entry.meta.deadline));
            payload_.append(deadline, sizeof deadline);
        }
        if ((flags & record_flag::tag) != 0) payload_.push_back(static_cast<char>(entry.meta.tag));
        payload_.append(entry.value);
        std::optional<std::size_t> replaced;
        table_.upsert(entry.key, payload_,
                      [&](std::string_view older) noexcept { replaced = decode(entry.key, older).value.size(); });
        if (replaced) {
            held_bytes_ -= entry.key.size() + *replaced;
        } else {
            hidden_bytes_ += hidden;
        }
        held_bytes_ += entry.key.size() + entry.value.size();
        written_bytes_ += entry.key.size() + entry.value.size();
    }

    /// The keys and values of the versions the buffer replaced: they are in its log alone,
    /// and leave the store with it when the buffer is flushed.
    [[nodiscard]] std::uint64_t replaced_bytes() const noexcept { return written_bytes_ - held_bytes_; }

    /// Whether at least ratio of what was written to the buffer is dead: versions it
    /// replaced, and versions in the tables its erases hide (which a merge drops only once
    /// the erases are in a table). Versions are counted by their keys and values, not the
    /// log's bytes, so that the records' framing never passes for dead versions.
    [[nodiscard]] bool mostly_dead(double ratio) const noexcept {
        const std::uint64_t dead = replaced_bytes() + hidden_bytes_;
        return dead > 0 && static_cast<double>(dead) >= ratio * static_cast<double>(written_bytes_ + hidden_bytes_);
    }

    /// The key's entry, a put or an erase, when the buffer holds one; its views are valid
    /// until the buffer changes.
    [[nodiscard]] bool find(std::string_view key, table_entry& out) const {
        const std::optional<std::string_view> payload = table_.find(key);
        if (!payload) return false;
        out = decode(key, *payload);
        return true;
    }

    /// A copy of every entry, for a snapshot; costs about memory_usage() in time and memory.
    [[nodiscard]] write_buffer copy() const {
        write_buffer out;
        out.table_ = table_.clone();
        out.held_bytes_ = held_bytes_;
        out.written_bytes_ = written_bytes_;
        out.hidden_bytes_ = hidden_bytes_;
        return out;
    }

    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
    [[nodiscard]] bool empty() const noexcept { return table_.empty(); }
    /// The heap bytes held: keys, payloads and the tree's nodes.
    [[nodiscard]] std::size_t memory_usage() const noexcept { return table_.memory_usage() + payload_.capacity(); }

    /// Calls f(const table_entry&) for every entry in key order, stopping when f returns false.
    template <class F>
    void visit(F&& f) const {
        table_.visit_from({}, true, [&](std::string_view key, std::string_view payload) { return f(decode(key, payload)); });
    }

    /// Walks the buffer's entries as a merging cursor's source. Each move finds its place
    /// again by key, so the buffer may change between moves; an entry's views are valid
    /// until the cursor moves or the buffer changes.
    class cursor final : public entry_cursor {
    public:
        explicit cursor(const write_buffer& buffer) noexcept : buffer_(&buffer) {}

        bool seek_first(std::error_code& ec) override { return up_from({}, true, ec); }
        bool seek_last(std::error_code& ec) override { return down_from(std::nullopt, true, ec); }
        bool seek(std::string_view key, std::error_code& ec) override { return up_from(key, true, ec); }
        bool next(std::error_code& ec) override { return valid_ && up_from(key_, false, ec); }
        bool prev(std::error_code& ec) override { return valid_ && down_from(key_, false, ec); }
        [[nodiscard]] bool valid() const noexcept override { return valid_; }
        [[nodiscard]] const table_entry& entry() const noexcept override { return entry_; }

    private:
        bool up_from(std::string_view from, bool inclusive, std::error_code& ec) {
            ec.clear();
            const std::string start(from);  // from may be key_, which settling replaces
            valid_ = false;
            buffer_->table_.visit_from(start, inclusive, [&](std::string_view key, std::string_view payload) {
                return settle(key, payload);
            });
            return valid_;
        }

        /// From the last entry when from is nullopt.
        bool down_from(std::optional<std::string_view> from, bool inclusive, std::error_code& ec) {
            ec.clear();
            const std::string start(from.value_or(std::string_view{}));
            valid_ = false;
            buffer_->table_.visit_down_from(from ? std::optional<std::string_view>(start) : std::nullopt, inclusive,
                                            [&](std::string_view key, std::string_view payload) {
                                                return settle(key, payload);
                                            });
            return valid_;
        }

        /// Takes the first entry a visit gives, and stops it.
        bool settle(std::string_view key, std::string_view payload) {
            key_.assign(key);
            entry_ = decode(key_, payload);
            valid_ = true;
            return false;
        }

        const write_buffer* buffer_;
        std::string key_;
        table_entry entry_;
        bool valid_ = false;
    };

private:
    [[nodiscard]] static table_entry decode(std::string_view key, std::string_view payload) noexcept {
        table_entry entry;
        entry.key = key;
        const auto type = static_cast<unsigned char>(payload[0]);
        entry.kind = static_cast<record_type>(type & 0x07);
        entry.meta.flags = static_cast<unsigned char>(type & ~0x07);
        std::size_t at = 1;
        if ((entry.meta.flags & record_flag::deadline) != 0) {
            entry.meta.deadline = static_cast<std::int64_t>(file_header::get_le64(payload.data() + at));
            at += 8;
        }
        if ((entry.meta.flags & record_flag::tag) != 0) entry.meta.tag = static_cast<unsigned char>(payload[at++]);
        entry.value = payload.substr(at);
        return entry;
    }

    btree_table table_;
    std::string payload_;  ///< the payload add() builds, kept for its capacity
    std::uint64_t held_bytes_ = 0;     ///< keys and values of its entries
    std::uint64_t written_bytes_ = 0;  ///< keys and values added, replaced ones too
    std::uint64_t hidden_bytes_ = 0;   ///< versions in the tables its erases hide
};

}  // namespace kvforge::detail
