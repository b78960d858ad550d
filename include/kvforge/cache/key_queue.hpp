#pragma once
/// \file key_queue.hpp
/// A first-in first-out queue of (ticket, key) records: the queues of kvforge's eviction
/// policies, which must name the entry they evict by its key.
///
/// Records lie one after another in a ring buffer: the ticket (4 bytes), the key's length
/// (4 bytes), the key's bytes. A record never wraps
/// around the buffer's end: when it does not fit before the end, the bytes up to the end
/// are skipped (marked by a length of ~0 when a header fits there; fewer bytes than a
/// header are skipped without a mark) and the record starts at offset 0. Space freed at
/// the front is reused at the back, so a queue whose records come and go at the same pace
/// keeps its size; it grows by half when full, and shrink_to_fit() and retain() pack it
/// into a buffer its records fill but for an eighth.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "../concepts.hpp"

namespace kvforge::detail {

class key_queue {
public:
    /// One queued record; the key points into the queue.
    struct record {
        entry_ticket ticket = 0;
        std::string_view key;
    };

    key_queue() = default;
    key_queue(key_queue&& other) noexcept { swap(other); }
    key_queue& operator=(key_queue&& other) noexcept {
        key_queue moved(std::move(other));
        swap(moved);
        return *this;
    }

    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }

    /// Appends a record. key may be the key of the record pop() returned last: it is read
    /// before the bytes it lies in are reused or freed. If growing the buffer throws, the
    /// queue is unchanged.
    void push(entry_ticket ticket, std::string_view key) {
        const std::size_t size = header_size + key.size();
        std::size_t at = tail_;
        std::size_t skipped = 0;
        if (capacity_ - at < size) {
            skipped = capacity_ - at;
            at = 0;
        }
        if (capacity_ == 0 || used_ + skipped + size > capacity_) {
            grow(ticket, key);
            return;
        }
        // The key first, with memmove: it may overlap the popped record it comes from,
        // which the header and the skip mark written next may then overwrite.
        if (!key.empty()) std::memmove(buffer_.get() + at + header_size, key.data(), key.size());
        if (skipped >= header_size) write_u32(tail_ + 4, skip_mark);
        write_header(at, ticket, key.size());
        tail_ = at + size;
        used_ += skipped + size;
        ++count_;
    }

    /// Removes the oldest record and returns it; its key stays valid until the next push().
    /// The queue must not be empty.
    record pop() noexcept {
        skip_to_record();
        record r;
        r.ticket = read_u32(head_);
        const std::size_t length = read_u32(head_ + 4);
        r.key = {buffer_.get() + head_ + header_size, length};
        head_ += header_size + length;
        used_ -= header_size + length;
        --count_;
        return r;
    }

    /// Keeps the records for which keep(ticket, key) is true, in their order, in a buffer
    /// sized for them (with an eighth to spare); the rest are dropped. keep is called once
    /// per record. If allocating throws, the queue is unchanged.
    template <class Keep>
    void retain(Keep&& keep) {
        std::vector<bool> kept(count_);
        std::size_t kept_bytes = 0;
        visit([&](std::size_t i, entry_ticket ticket, std::string_view key) {
            kept[i] = keep(ticket, key);
            if (kept[i]) kept_bytes += header_size + key.size();
        });
        key_queue packed;
        packed.allocate(fitting_capacity(kept_bytes));
        visit([&](std::size_t i, entry_ticket ticket, std::string_view key) {
            if (kept[i]) packed.append_unchecked(ticket, key);
        });
        swap(packed);
    }

    /// Packs the records into a buffer sized for them when the one held is more than half
    /// as large again. If allocating throws, the queue is unchanged.
    void shrink_to_fit() {
        if (capacity_ > min_capacity && capacity_ > used_ + used_ / 2) {
            retain([](entry_ticket, std::string_view) { return true; });
        }
    }

    /// Bytes of memory the queue holds.
    [[nodiscard]] std::size_t memory_usage() const noexcept { return capacity_; }

    /// Drops every record and frees the buffer.
    void clear() noexcept { *this = key_queue{}; }

private:
    static constexpr std::size_t header_size = 8;
    static constexpr std::uint32_t skip_mark = ~std::uint32_t{0};
    static constexpr std::size_t min_capacity = 256;

    void swap(key_queue& other) noexcept {
        std::swap(buffer_, other.buffer_);
        std::swap(capacity_, other.capacity_);
        std::swap(head_, other.head_);
        std::swap(tail_, other.tail_);
        std::swap(used_, other.used_);
        std::swap(count_, other.count_);
    }

    /// A capacity that holds bytes of records with an eighth to spare.
    [[nodiscard]] static std::size_t fitting_capacity(std::size_t bytes) noexcept {
        return std::max(min_capacity, bytes + bytes / 8);
    }

    void allocate(std::size_t capacity) {
        buffer_ = std::make_unique_for_overwrite<char[]>(capacity);
        capacity_ = capacity;
    }

    /// Moves head_ past the skipped bytes at the buffer's end, if it stands before them.
    void skip_to_record() noexcept {
        if (capacity_ - head_ >= header_size && read_u32(head_ + 4) != skip_mark) return;
        used_ -= capacity_ - head_;
        head_ = 0;
    }

    /// Calls f(index, ticket, key) for each record, oldest first, without removing any.
    template <class F>
    void visit(F&& f) const {
        std::size_t at = head_;
        for (std::size_t i = 0; i < count_; ++i) {
            if (capacity_ - at < header_size || read_u32(at + 4) == skip_mark) at = 0;
            const std::size_t length = read_u32(at + 4);
            f(i, read_u32(at), std::string_view(buffer_.get() + at + header_size, length));
            at += header_size + length;
        }
    }

    /// Grows the buffer by half (or more, until the records and the new one fit), copies
    /// the records to its start, then appends the new one; the old buffer, which key may
    /// point into, is freed last.
    void grow(entry_ticket ticket, std::string_view key) {
        std::size_t live = 0;
        visit([&](std::size_t, entry_ticket, std::string_view k) { live += header_size + k.size(); });
        const std::size_t capacity =
            std::max(fitting_capacity(live + header_size + key.size()), capacity_ + capacity_ / 2);
        key_queue bigger;
        bigger.allocate(capacity);
        visit([&](std::size_t, entry_ticket t, std::string_view k) { bigger.append_unchecked(t, k); });
        bigger.append_unchecked(ticket, key);
        swap(bigger);
    }

    /// Appends a record to a queue that has never wrapped and has room for it.
    void append_unchecked(entry_ticket ticket, std::string_view key) noexcept {
        if (!key.empty()) std::memcpy(buffer_.get() + tail_ + header_size, key.data(), key.size());
        write_header(tail_, ticket, key.size());
        tail_ += header_size + key.size();
        used_ += header_size + key.size();
        ++count_;
    }

    void write_header(std::size_t at, entry_ticket ticket, std::size_t length) noexcept {
        write_u32(at, ticket);
        write_u32(at + 4, static_cast<std::uint32_t>(length));
    }
    void write_u32(std::size_t at, std::uint32_t value) noexcept { std::memcpy(buffer_.get() + at, &value, 4); }
    [[nodiscard]] std::uint32_t read_u32(std::size_t at) const noexcept {
        std::uint32_t value = 0;
        std::memcpy(&value, buffer_.get() + at, 4);
        return value;
    }

    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_ = 0;  ///< 0 before the first push
    std::size_t head_ = 0;      ///< where the oldest record (or the skipped bytes before it) starts
    std::size_t tail_ = 0;      ///< where the next record goes
    std::size_t used_ = 0;      ///< bytes from head_ to tail_, skipped ones included
    std::size_t count_ = 0;     ///< records queued
};

}  // namespace kvforge::detail
